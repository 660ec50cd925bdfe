//! What every contract test starts from: a sandbox on a free port, an HTTP client that
//! ignores proxy settings, and the sandbox's control client. Each test file adds its
//! provider's request helpers to [`Env`] in an `impl` of its own.

use signbridge_sandbox::control::Control;
use signbridge_sandbox::{Sandbox, SandboxConfig};

pub struct Env {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub control: Control,
}

impl Env {
    pub async fn new(config: SandboxConfig) -> Env {
        let sandbox =
            Sandbox::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("sandbox starts");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let control = sandbox.control();
        Env { sandbox, http, control }
    }
}
