// Keeps a page's live regions up to date while something in them is pending.
//
// A region is an element with an id and a data-live attribute; something pending inside
// one carries data-pending (a file's facts or preview still to come from a background
// task). While any is left, the page fetches itself again, more slowly each time, and puts
// each region's new content in place: no reload, no markup built here, nothing inline (the
// site's Content Security Policy allows scripts from the site only). It stops when nothing
// is pending, when the page is gone or the user logged out, and after GIVE_UP_AFTER_MS;
// reloading the page starts again.
(() => {
  "use strict";

  const FIRST_DELAY_MS = 1500;
  const BACKOFF = 1.5;
  const MAX_DELAY_MS = 15000;
  const GIVE_UP_AFTER_MS = 120000;

  const started = Date.now();
  let delay = FIRST_DELAY_MS;

  const somethingPending = () => document.querySelector("[data-live] [data-pending]") !== null;

  function schedule() {
    if (!somethingPending() || Date.now() - started + delay > GIVE_UP_AFTER_MS) {
      return;
    }
    setTimeout(refresh, delay);
    delay = Math.min(delay * BACKOFF, MAX_DELAY_MS);
  }

  async function refresh() {
    let response;
    try {
      response = await fetch(window.location.href, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      });
    } catch {
      schedule(); // the network failed for a moment: try again later
      return;
    }
    // Redirected (to the log-in page), or the file is gone: nothing more to show here.
    if (!response.ok || response.redirected) {
      return;
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const region of document.querySelectorAll("[data-live][id]")) {
      const update = fresh.getElementById(region.id);
      // Only what changed: a focused link or a loaded image elsewhere stays as it is.
      if (update !== null && update.hasAttribute("data-live")
          && update.innerHTML !== region.innerHTML) {
        // Boxes the user ticked (bulk selection on the list) stay ticked in the new rows.
        const ticked = new Set(Array.from(
          region.querySelectorAll("input[type=checkbox]:checked"), (box) => box.value));
        region.replaceChildren(...update.childNodes);
        for (const box of region.querySelectorAll("input[type=checkbox]")) {
          box.checked = ticked.has(box.value);
        }
      }
    }
    schedule();
  }

  schedule();
})();
