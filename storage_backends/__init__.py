"""Stateless-node backends for Django on AWS: boto3 clients, S3 storages, provisioning.

A Django app: add "storage_backends" to INSTALLED_APPS for its system checks and the
`provision_aws` command. Nothing here imports the rest of Stratus.
"""
