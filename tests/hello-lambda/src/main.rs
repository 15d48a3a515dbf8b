//! The smallest `lambda_runtime` function, as the runtime's own basic
//! example writes it: it answers every event with a greeting. The
//! benchmark (`lambda-bench`) times the functions' start-up against it.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

async fn hello(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "message": "Hello, world" }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
