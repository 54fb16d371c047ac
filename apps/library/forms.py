"""The upload form: checks the file, then describes it from its name and bytes."""

from django import forms
from django.conf import settings
from django.db import DatabaseError
from django.template.defaultfilters import filesizeformat

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
