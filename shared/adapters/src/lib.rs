pub use aws_lambda_events;
pub use aws_sdk_dynamodb;
pub use c360_domain as domain;
pub use lambda_http;
pub use redis;
