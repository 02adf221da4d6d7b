pub use c360_domain as domain; pub use aws_sdk_dynamodb; pub use lambda_http; pub use redis; pub use aws_lambda_events;
