//! The HTTP client of every provider call: a timeout on each request (10 s by default), no
//! redirect followed (a redirect is an answer like any other, so a provider cannot bounce a
//! request, code or token elsewhere), and a cap on the response body (1 MiB by default),
//! read chunk by chunk so a huge or endless answer is cut off early.

use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

use super::ProviderError;

/// The HTTP client of provider calls; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
    max_body: usize,
}

/// Timeout of one provider request, end to end.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest provider answer read.
pub(crate) const DEFAULT_MAX_BODY: usize = 1024 * 1024;

impl ProviderHttp {
    /// A client with this timeout per request and this cap on response bodies.
    pub fn new(timeout: Duration, max_body: usize) -> Result<Self, ProviderError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent("authx")
            .build()
            .map_err(|e| ProviderError::new(format!("HTTP client: {e}")))?;
        Ok(Self { client, max_body })
    }

    /// The defaults: 10 s, 1 MiB.
    pub fn standard() -> Result<Self, ProviderError> {
        Self::new(DEFAULT_TIMEOUT, DEFAULT_MAX_BODY)
    }

    /// Sends one request as openidconnect and oauth2 build them.
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| ProviderError::new(format!("request: {e}")))?;
        let url = request.url().clone();
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| ProviderError::new(format!("{url}: {e}")))?;
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(ProviderError::new(format!("{url}: answer too large")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ProviderError::new(format!("{url}: {e}")))?
        {
            if body.len() + chunk.len() > self.max_body {
                return Err(ProviderError::new(format!("{url}: answer too large")));
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = openidconnect::http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            out = out.header(name.as_str(), value.as_bytes());
        }
        out.body(body)
            .map_err(|e| ProviderError::new(format!("{url}: {e}")))
    }

    /// A GET with a bearer token and JSON `Accept`, for APIs outside OAuth (GitHub's `/user`):
    /// the status and the body, bounded like every answer.
    pub(crate) async fn get_json(
        &self,
        url: &str,
        bearer: &str,
    ) -> Result<serde_json::Value, ProviderError> {
        let request = openidconnect::http::Request::builder()
            .method("GET")
            .uri(url)
            .header("Accept", "application/json")
            .header("Authorization", format!("Bearer {bearer}"))
            .body(Vec::new())
            .map_err(|e| ProviderError::new(format!("{url}: {e}")))?;
        let response = self.send(request).await?;
        if !response.status().is_success() {
            return Err(ProviderError::new(format!(
                "{url}: answered {}",
                response.status()
            )));
        }
        serde_json::from_slice(response.body())
            .map_err(|e| ProviderError::new(format!("{url}: not JSON: {e}")))
    }

    /// The client as openidconnect and oauth2 call it.
    pub(crate) fn caller(
        &self,
    ) -> impl Fn(
        HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, ProviderError>> + Send>,
    > + Send
    + Sync {
        let this = self.clone();
        move |request| {
            let this = this.clone();
            Box::pin(async move { this.send(request).await })
        }
    }
}
