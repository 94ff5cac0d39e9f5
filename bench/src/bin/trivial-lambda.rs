//! A function that answers every invocation at once with `{}`: the baseline
//! `make bench` times the orchestrator's cold start against, on the same
//! Lambda runtime API and the same runtime crate and Tokio flavour.

use lambda_http::{service_fn, Body, Error, Request, Response};

async fn answer(_: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from("{}"))?)
}

fn main() -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(lambda_http::run(service_fn(answer)))
}
