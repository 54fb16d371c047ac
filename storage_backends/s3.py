"""S3 storages for Django, extending django-storages' S3Storage (never forking it).

- `MediaStorage`: uploaded files. Private objects (no ACL granted: the bucket blocks public
  access and keeps ACLs off), served by presigned GET URLs that expire
  (`querystring_expire`), never overwritten (a taken name gets a suffix), encrypted at rest
  with SSE-S3.
- `StaticStorage`: collectstatic's target in production: hashed names (a manifest), public
  URLs through `custom_domain` (the CDN in front of the bucket), no signatures.

Both take their connection settings (endpoint, region, retries, timeouts, pool) and the
request's AWS budget from `storage_backends.aws`, so every AWS call of the project is
configured in one place.
"""

from boto3.s3.transfer import TransferConfig
from storages.backends.s3 import S3ManifestStaticStorage, S3Storage

from . import aws


class _ConfiguredS3:
    """Endpoint, credentials and botocore config from `storage_backends.aws`."""

    def get_default_settings(self):
        defaults = super().get_default_settings()
        config, keys = aws.config("s3"), aws.credentials()
        defaults.update(
            endpoint_url=aws.endpoint_url("s3"),
            region_name=config.region_name,
            client_config=config,
            access_key=keys.get("aws_access_key_id"),
            secret_key=keys.get("aws_secret_access_key"),
            # Transfers run in the calling thread, where the request's AWS budget is
            # (storage_backends.budget): s3transfer's own threads would not see it.
            transfer_config=TransferConfig(use_threads=False),
        )
        return defaults

    @property
    def connection(self):
        # django-storages makes this resource (one per thread); hold it to the budget too.
        resource = super().connection
        aws.adopt(resource.meta.client)
        return resource


class MediaStorage(_ConfiguredS3, S3Storage):
    """Users' files: private, presigned, never overwritten, encrypted."""

    def _get_write_parameters(self, name, content=None):  # django-storages hook
        params = super()._get_write_parameters(name, content)
        # django-storages marks "x.gz" as Content-Encoding: gzip, so browsers would unpack a
        # download yet keep its .gz name. Users' files are stored exactly as uploaded.
        params.pop("ContentEncoding", None)
        return params

    def get_default_settings(self):
        defaults = super().get_default_settings()
        defaults.update(
            querystring_auth=True,
            file_overwrite=False,
            object_parameters={"ServerSideEncryption": "AES256"},
        )
        return defaults


class StaticStorage(_ConfiguredS3, S3ManifestStaticStorage):
    """Static files with hashed names, served publicly through a CDN domain."""

    def get_default_settings(self):
        defaults = super().get_default_settings()
        defaults.update(querystring_auth=False, file_overwrite=True, default_acl=None)
        return defaults
