//! Authentication of every gRPC call to Hatchet: the bearer-token interceptor and the channel type it wraps.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::{HatchetError, Result};

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct AuthInterceptor {
    header: MetadataValue<Ascii>,
}

impl AuthInterceptor {
    /// Builds the interceptor for `token`.
    pub fn new(token: &str) -> Result<Self> {
        let header = format!("Bearer {token}").parse().map_err(|_| HatchetError::InvalidToken {
            reason: "it contains characters that cannot be sent in a gRPC header".into(),
        })?;
        Ok(AuthInterceptor { header })
    }
}

impl Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.header.clone());
        Ok(request)
    }
}

/// The channel type every generated client uses here.
pub type AuthChannel = InterceptedService<Channel, AuthInterceptor>;
