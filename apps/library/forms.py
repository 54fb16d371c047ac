"""The upload form: checks the file, then describes it from its name and bytes."""

import unicodedata

from django import forms
from django.conf import settings
from django.db import DatabaseError
from django.template.defaultfilters import filesizeformat

from apps.uploads.quota import usage_of

from . import files
from .models import File


class UploadForm(forms.ModelForm):
    """Upload one file with an optional title; the owner comes with the form's instance."""

    # Declared rather than generated: the model field would reject a long name, which
    # files.display_name and files.safe_name shorten instead.
    file = forms.FileField(error_messages={
        "required": "Choose a file to upload.",
        "empty": "The file is empty.",
    })

    class Meta:
        model = File
        fields = ["file", "title"]

    def clean_file(self):
        """Refuse a file over STRATUS_FORM_UPLOAD_MAX_BYTES, naming the limit in human units."""
        upload = self.cleaned_data["file"]
        limit = settings.STRATUS_FORM_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                "The file is %(size)s; files can be at most %(limit)s.",
                code="too_big",
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            )
        # The bytes are on the node already (a plain form sends them all), but nothing is
        # stored: the file is refused before it reaches S3.
        usage = usage_of(self.instance.owner)
        if not usage.allows(upload.size):
            raise forms.ValidationError(usage.refusal(upload.size), code="over_quota")
        return upload

    def save(self, commit=True):
        """Describe the file, then store the bytes in S3 and, after them, the row.

        With commit=False the file is described but nothing is stored.
        """
        file = super().save(commit=False)
        upload = self.cleaned_data["file"]
        # The name as given, for people; the S3 key gets its safe form (files.upload_to).
        file.original_name = files.display_name(upload.name)
        file.size = upload.size
        file.content_type = files.content_type_for(file.original_name, files.read_head(upload))
        # django-storages gives the S3 object the upload's content_type, which is the
        # browser's claim: make the object's metadata say what the row says.
        upload.content_type = file.content_type
        if not commit:
            return file
        file.file.save(upload.name, upload, save=False)
        try:
            file.save()
        except DatabaseError:
            # Otherwise no row would ever point to the object just written.
            file.file.delete(save=False)
            raise
        return file


class FileEditForm(forms.ModelForm):
    """Rename a file (the name shown and sent with downloads) and edit its title.

    The S3 key and the stored type stay as uploaded: only what people see changes. A name
    is one file's name: no directories (either slash), nothing unprintable, not "." or
    "..", at most files.MAX_DISPLAY_NAME_BYTES in UTF-8, as an upload's name is kept.
    """

    class Meta:
        model = File
        fields = ["original_name", "title"]
        labels = {"original_name": "Name"}
        help_texts = {"original_name": "", "title": "Shown instead of the name, if given."}

    def clean_original_name(self):
        name = unicodedata.normalize("NFC", self.cleaned_data["original_name"].strip())
        if "/" in name or "\\" in name:
            raise forms.ValidationError("A name cannot hold a slash (/ or \\).",
                                        code="separator")
        if not name.isprintable():
            raise forms.ValidationError("A name cannot hold control characters.",
                                        code="unprintable")
        if name in (".", ".."):
            raise forms.ValidationError("Choose a name other than “.” or “..”.",
                                        code="dots")
        if len(name.encode()) > files.MAX_DISPLAY_NAME_BYTES:
            raise forms.ValidationError(
                "A name can be at most %(limit)d bytes (fewer letters if some are accented "
                "or not Latin).", code="too_long",
                params={"limit": files.MAX_DISPLAY_NAME_BYTES})
        return name

    def clean_title(self):
        title = " ".join(self.cleaned_data["title"].split())
        if not title.isprintable():
            raise forms.ValidationError("A title cannot hold control characters.",
                                        code="unprintable")
        return title
