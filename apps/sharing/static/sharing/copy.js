// "Copy" beside a new share link: puts the link on the clipboard and says so. A static file,
// as the site's Content Security Policy allows no inline script; without it (or without
// clipboard access) the link's field is still there to select and copy by hand.
(() => {
  "use strict";

  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (field === null || !navigator.clipboard) {
      continue;
    }
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        button.textContent = "Copied";
      } catch {
        field.select(); // no permission: selected, for the user to copy
      }
    });
  }
})();
