"""Sessions, cache and task results in Amazon DynamoDB: the second state store (issue 12)."""
