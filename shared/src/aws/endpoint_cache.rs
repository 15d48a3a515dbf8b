//! Endpoints resolved once per distinct set of parameters, not per call.
//!
//! Every SDK call runs its service's endpoint rules: S3's are thousands of
//! lines, with regular expressions over the region and the bucket, and S3
//! runs them twice a call (once more to choose the signing scheme). For one
//! client in one region they give the same endpoint every time, so the
//! first answer for each set of parameters is kept.
//!
//! The parameters are compared whole, except where a service's rules do
//! not read one that changes with every call: S3's object `Key`, `Prefix`
//! and `CopySource` (its rules bind them and never use them), so that all
//! the objects of one bucket share one entry.

use std::fmt::Debug;
use std::sync::Mutex;

use aws_smithy_runtime_api::client::endpoint::{
    EndpointFuture, EndpointResolverParams, ResolveEndpoint, SharedEndpointResolver,
};
use aws_smithy_types::endpoint::Endpoint;

/// A client talks to a handful of endpoints at most; past this many
/// parameter sets the rules simply run each call.
const CAPACITY: usize = 16;

/// An endpoint resolver that remembers the endpoint of each parameter set.
#[derive(Debug)]
pub struct CachedEndpoints<P> {
    rules: SharedEndpointResolver,
    /// True when two parameter sets give the same endpoint.
    same: fn(&P, &P) -> bool,
    known: Mutex<Vec<(P, Endpoint)>>,
}

impl<P> CachedEndpoints<P>
where
    P: Clone + Debug + Send + Sync + 'static,
{
    /// `rules` (a service's `DefaultResolver`), with its answers kept for
    /// parameters that `same` says are alike.
    pub fn shared(
        rules: SharedEndpointResolver,
        same: fn(&P, &P) -> bool,
    ) -> SharedEndpointResolver {
        SharedEndpointResolver::new(Self {
            rules,
            same,
            known: Mutex::new(Vec::new()),
        })
    }

    fn known(&self, params: &P) -> Option<Endpoint> {
        let known = self.known.lock().ok()?;
        known
            .iter()
            .find(|(seen, _)| (self.same)(seen, params))
            .map(|(_, endpoint)| endpoint.clone())
    }

    fn remember(&self, params: &P, endpoint: &Endpoint) {
        if let Ok(mut known) = self.known.lock()
            && known.len() < CAPACITY
            && !known.iter().any(|(seen, _)| (self.same)(seen, params))
        {
            known.push((params.clone(), endpoint.clone()));
        }
    }
}

impl<P> ResolveEndpoint for CachedEndpoints<P>
where
    P: Clone + Debug + Send + Sync + 'static,
{
    fn resolve_endpoint<'a>(&'a self, params: &'a EndpointResolverParams) -> EndpointFuture<'a> {
        let Some(typed) = params.get::<P>() else {
            return self.rules.resolve_endpoint(params);
        };
        if let Some(endpoint) = self.known(typed) {
            return EndpointFuture::ready(Ok(endpoint));
        }
        EndpointFuture::new(async move {
            let endpoint = self.rules.resolve_endpoint(params).await?;
            self.remember(typed, &endpoint);
            Ok(endpoint)
        })
    }
}

/// S3's parameters alike but for the object they name.
pub fn same_s3_endpoint(
    a: &aws_sdk_s3::config::endpoint::Params,
    b: &aws_sdk_s3::config::endpoint::Params,
) -> bool {
    a.bucket() == b.bucket()
        && a.region() == b.region()
        && a.use_fips() == b.use_fips()
        && a.use_dual_stack() == b.use_dual_stack()
        && a.endpoint() == b.endpoint()
        && a.force_path_style() == b.force_path_style()
        && a.accelerate() == b.accelerate()
        && a.use_global_endpoint() == b.use_global_endpoint()
        && a.use_object_lambda_endpoint() == b.use_object_lambda_endpoint()
        && a.disable_access_points() == b.disable_access_points()
        && a.disable_multi_region_access_points() == b.disable_multi_region_access_points()
        && a.use_arn_region() == b.use_arn_region()
        && a.use_s3_express_control_endpoint() == b.use_s3_express_control_endpoint()
        && a.disable_s3_express_session_auth() == b.disable_s3_express_session_auth()
}

/// Parameters alike only when equal in every field.
pub fn equal<P: PartialEq>(a: &P, b: &P) -> bool {
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint as _};

    fn params(bucket: &str, key: &str, endpoint: Option<&str>) -> Params {
        Params::builder()
            .bucket(bucket)
            .key(key)
            .region("eu-west-1")
            .set_endpoint(endpoint.map(str::to_owned))
            .force_path_style(endpoint.is_some())
            .build()
            .unwrap()
    }

    async fn resolve(resolver: &SharedEndpointResolver, params: &Params) -> String {
        resolver
            .resolve_endpoint(&EndpointResolverParams::new(params.clone()))
            .await
            .unwrap()
            .url()
            .to_owned()
    }

    #[tokio::test]
    async fn each_answer_is_the_rules_own_whatever_the_object() {
        let rules = DefaultResolver::new();
        let cached = CachedEndpoints::shared(
            DefaultResolver::new().into_shared_resolver(),
            same_s3_endpoint,
        );
        let cases = [
            params("archive", "users/a.json", None),
            params("archive", "users/b.json", None),
            params("other", "users/a.json", None),
            params("archive", "users/c.json", Some("http://127.0.0.1:5000")),
            params("archive", "users/d.json", Some("http://127.0.0.1:5000")),
            params("archive", "users/e.json", None),
        ];
        for case in &cases {
            let expected = rules.resolve_endpoint(case).await.unwrap();
            assert_eq!(resolve(&cached, case).await, expected.url(), "{case:?}");
        }
    }

    #[test]
    fn one_bucket_s_objects_share_an_entry_and_buckets_do_not() {
        assert!(same_s3_endpoint(
            &params("archive", "users/a.json", None),
            &params("archive", "users/b.json", None)
        ));
        assert!(!same_s3_endpoint(
            &params("archive", "users/a.json", None),
            &params("other", "users/a.json", None)
        ));
        assert!(!same_s3_endpoint(
            &params("archive", "users/a.json", None),
            &params("archive", "users/a.json", Some("http://127.0.0.1:5000"))
        ));
    }
}
