//! moto behind gunicorn (`tests/moto/serve_keepalive.py`): connections kept
//! alive as AWS keeps them, HTTPS with a certificate of its own when asked,
//! and an access log from which the calls a function made are counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};

use aws_config::SdkConfig;
use onboard_shared::aws::Connection;
use onboard_tests::{Venv, start_server, workspace};

/// The name the benchmark's own calls carry in their user agent.
const HARNESS: &str = "lambda-bench";

/// A running emulator; stopped when dropped.
#[derive(Debug)]
pub struct KeepAliveEmulator {
    pub url: String,
    /// The certificate it serves HTTPS with, when it does.
    pub certificate: Option<PathBuf>,
    access_log: PathBuf,
    process: Child,
    /// Closing it stops the server.
    stdin: Option<ChildStdin>,
}

impl KeepAliveEmulator {
    /// Starts one, its files (log, certificate) in `dir`.
    pub fn start(dir: &Path, tls: bool) -> Result<Self, String> {
        let python = Venv::EMULATOR.python()?;
        let access_log = dir.join(if tls { "tls-access.log" } else { "access.log" });
        let mut command = Command::new(python);
        command
            .arg(workspace().join("tests/moto/serve_keepalive.py"))
            .arg("--access-log")
            .arg(&access_log);
        if tls {
            command.arg("--tls").arg(dir);
        }
        let scheme = if tls { "https" } else { "http" };
        let (process, stdin, url) = start_server(&mut command, &format!("{scheme}://127.0.0.1:"))?;
        Ok(Self {
            url,
            certificate: tls.then(|| dir.join("cert.pem")),
            access_log,
            process,
            stdin: Some(stdin),
        })
    }

    /// An SDK config for setting the emulator up, trusting its certificate.
    pub async fn sdk_config(&self) -> Result<SdkConfig, String> {
        let config = Connection {
            endpoint_url: Some(self.url.clone()),
            region: Some("us-east-1".to_owned()),
            profile: None,
        }
        .load()
        .await
        .into_builder()
        .app_name(aws_config::AppName::new(HARNESS).map_err(|err| err.to_string())?)
        .build();
        let Some(certificate) = &self.certificate else {
            return Ok(config);
        };
        use aws_smithy_http_client::tls::{self, Provider, TlsContext, TrustStore};
        let pem = std::fs::read(certificate)
            .map_err(|err| format!("{}: {err}", certificate.display()))?;
        let context = TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
            .build()
            .map_err(|err| err.to_string())?;
        let client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
            .tls_context(context)
            .build_https();
        Ok(config.to_builder().http_client(client).build())
    }

    /// Where the access log ends now: calls are counted from a mark.
    pub fn mark(&self) -> u64 {
        std::fs::metadata(&self.access_log).map_or(0, |m| m.len())
    }

    /// The calls logged since `mark`, by operation, but for the benchmark's
    /// own (setting the emulator up between invocations).
    pub fn calls_since(&self, mark: u64) -> Result<BTreeMap<String, u64>, String> {
        let log = std::fs::read(&self.access_log)
            .map_err(|err| format!("{}: {err}", self.access_log.display()))?;
        let start = usize::try_from(mark).unwrap_or(usize::MAX).min(log.len());
        let mut calls = BTreeMap::new();
        let own = format!("app/{HARNESS}");
        for line in String::from_utf8_lossy(&log[start..])
            .lines()
            .filter(|line| !line.contains(&own))
        {
            *calls.entry(operation(line)).or_insert(0) += 1;
        }
        Ok(calls)
    }
}

/// The operation of one access-log line, `METHOD PATH TARGET STATUS`: the
/// `X-Amz-Target` of the JSON protocols (`AmazonSQS.SendMessageBatch` gives
/// `SendMessageBatch`), else S3's REST verb on an object.
fn operation(line: &str) -> String {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [_, _, target, ..] if *target != "-" => target
            .rsplit_once('.')
            .map_or(*target, |(_, op)| op)
            .to_owned(),
        ["HEAD", ..] => "HeadObject".to_owned(),
        ["PUT", ..] => "PutObject".to_owned(),
        ["GET", ..] => "GetObject".to_owned(),
        [method, ..] => format!("{method} (other)"),
        [] => "(empty line)".to_owned(),
    }
}

impl Drop for KeepAliveEmulator {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.process.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn operations_are_named_from_the_target_or_the_verb() {
        assert_eq!(
            operation("POST / AmazonSQS.SendMessageBatch 200"),
            "SendMessageBatch"
        );
        assert_eq!(operation("POST / DynamoDB_20120810.PutItem 200"), "PutItem");
        assert_eq!(operation("PUT /bucket/users/a.json - 200"), "PutObject");
        assert_eq!(operation("HEAD /bucket/users/a.json - 404"), "HeadObject");
    }
}
