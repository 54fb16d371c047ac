"""The owner's share links (create, revoke) and the public shared page at /s/<token>/.

The shared page needs no account and no session: the link's state is its database row, the
password's guesses are counted in the shared store, and the bytes come from S3 through a
short-lived presigned URL, so any node answers any request.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.library.csp import allow_media_origin
from apps.library.models import File

from .forms import SharePasswordForm, ShareLinkForm
from .models import ShareLink
from .throttle import Guesses


def _own_file(request, public_id):
    """The requesting user's file, not in the trash; 404 for anyone else's."""
    return get_object_or_404(File.objects.live(), public_id=public_id, owner=request.user)


@never_cache  # the page may hold a new link's token: nothing may keep it
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def shares(request, public_id):
    """A file's share links; POST makes a new one and shows its URL, this once."""
    file = _own_file(request, public_id)
    new_link_url = None
    if request.method == "POST":
        form = ShareLinkForm(request.POST)
        if form.is_valid():
            _, token = ShareLink.create(file, form.cleaned_data["expires_at"],
                                        form.cleaned_data["password"])
            new_link_url = request.build_absolute_uri(reverse("sharing:shared", args=[token]))
            form = ShareLinkForm()
    else:
        form = ShareLinkForm()
    return render(request, "sharing/shares.html", {
        "file": file, "form": form, "links": file.share_links.all(),
        "new_link_url": new_link_url}, status=201 if new_link_url else 200)


@login_required
@require_POST
def revoke(request, public_id, link_id):
    """Revoke one of the user's links: it stops working at once, on every node."""
    file = _own_file(request, public_id)
    link = get_object_or_404(ShareLink, public_id=link_id, file=file)
    link.revoke()
    messages.success(request, f"Revoked the link {link.token_hint}….")
    return redirect(f"{file.get_absolute_url()}#sharing")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@allow_media_origin("form-action")  # the download form's answer redirects to S3
def shared(request, token):
    """The page a share link opens; its form (with the password, if the link has one)
    counts a download and redirects to the file's presigned S3 URL.

    An unknown token is a 404, an expired or revoked link (or one whose file is in the
    trash) a 410: neither says anything about the file.
    """
    link = ShareLink.find(token)
    if link is None:
        return _unavailable(request, status=404)
    if not link.usable:
        return _unavailable(request, status=410)
    bound = request.POST if request.method == "POST" else None
    form = SharePasswordForm(bound) if link.needs_password else None
    if request.method == "POST":
        if link.needs_password:
            guesses = Guesses(request, link)
            if not guesses.admit():
                return _page(request, link, form, status=429, refused=True)
            if not form.is_valid():
                return _page(request, link, form, status=403)
            if not link.check_password(form.cleaned_data["password"]):
                form.add_error("password", "That is not the link's password.")
                return _page(request, link, form, status=403)
            guesses.succeeded()
        if not link.count_download():
            return _unavailable(request, status=410)  # revoked or expired meanwhile
        response = redirect(link.file.download_url())
        response.status_code = 303  # See Other: the browser GETs the S3 URL after a POST
        return response
    return _page(request, link, form, status=200)


def _page(request, link, form, status, refused=False):
    response = render(request, "sharing/shared.html", {
        "link": link, "file": link.file, "form": form, "refused": refused}, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _unavailable(request, status):
    response = render(request, "sharing/unavailable.html", {"gone": status == 410},
                      status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
