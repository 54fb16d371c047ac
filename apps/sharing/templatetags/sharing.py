"""{% share_links file %}: the file page's sharing section (its links and the new-link form)."""

from django import template

from ..forms import ShareLinkForm

register = template.Library()


@register.inclusion_tag("sharing/links.html")
def share_links(file):
    """The section for `file`, as its owner's file page shows it."""
    return {"file": file, "links": file.share_links.all(), "form": ShareLinkForm()}
