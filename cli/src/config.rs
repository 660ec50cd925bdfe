//! The account configuration file: JSON or TOML, same fields as `signbridge::ClientConfig`.
//! Secrets belong in the environment (`SIGNBRIDGE_TAE_PASSWORD`), which wins over the file.

use std::path::Path;

use signbridge::{Client, ClientConfig, Error};

use crate::Failure;

pub fn client(path: &Path) -> Result<Client, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Other(format!(
            "cannot read the configuration {}: {e} (set --config or SIGNBRIDGE_CONFIG)",
            path.display()
        ))
    })?;
    let mut config = parse(path, &text)?;
    config.apply_env();
    Ok(Client::new(config)?)
}

/// The listener configuration of `signbridge serve` (JSON or TOML, as for an account).
pub fn listener(path: &Path) -> Result<signbridge::webhooks::ListenerConfig, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Other(format!(
            "cannot read the configuration {}: {e} (set --config or SIGNBRIDGE_CONFIG)",
            path.display()
        ))
    })?;
    let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let json = if is_toml {
        let value: toml::Value =
            toml::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
        serde_json::to_string(&value)
            .map_err(|e| Error::config(format!("{}: {e}", path.display())))?
    } else {
        text
    };
    signbridge::webhooks::ListenerConfig::from_json(&json)
        .map_err(|e| Error::config(format!("{}: {e}", path.display())).into())
}

fn parse(path: &Path, text: &str) -> Result<ClientConfig, Error> {
    let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if !is_toml {
        return ClientConfig::from_json(text);
    }
    let value: toml::Value =
        toml::from_str(text).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
    let json = serde_json::to_value(value)
        .map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
    serde_json::from_value(json).map_err(|e| Error::config(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_give_the_same_config() {
        let toml = r#"
provider = "tae"
account = "rm"
[settings]
auth_base = "https://totvssign.totvs.app/identityintegration"
api_base = "https://totvssign.totvs.app"
username = "svc@empresa.com.br"
[transport]
rate_limit_per_second = 5.0
"#;
        let from_toml = parse(Path::new("a.toml"), toml).unwrap();
        let from_json = parse(
            Path::new("a.json"),
            r#"{"provider":"tae","account":"rm","settings":{
                "auth_base":"https://totvssign.totvs.app/identityintegration",
                "api_base":"https://totvssign.totvs.app","username":"svc@empresa.com.br"},
                "transport":{"rate_limit_per_second":5.0}}"#,
        )
        .unwrap();
        assert_eq!(from_toml.settings, from_json.settings);
        assert_eq!(from_toml.account, "rm");
        assert_eq!(from_toml.transport.rate_limit_per_second, 5.0);
    }

    #[test]
    fn a_listener_reads_from_toml_and_names_the_file_on_a_typo() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(
            &path,
            r#"
listen = "127.0.0.1:0"
[[routes]]
source = "sintegre"
account = "ons"
settings = { auth = ["none"], link_secret = "s", downloads = { folder = "/srv/ons" } }
"#,
        )
        .unwrap();
        let config = listener(&path).ok().unwrap();
        assert_eq!(
            (config.listen.as_str(), config.routes[0].account.as_str()),
            ("127.0.0.1:0", "ons")
        );
        std::fs::write(&path, "lisen = \"x\"\nroutes = []").unwrap();
        let Err(Failure::Sdk(err)) = listener(&path) else { panic!("a typo must fail") };
        assert!(
            err.to_string().contains("serve.toml") && err.to_string().contains("lisen"),
            "{err}"
        );
    }

    #[test]
    fn a_typo_is_a_config_error_naming_the_file() {
        let err = parse(Path::new("bad.toml"), "provider = \"tae\"\nacount = \"x\"").unwrap_err();
        assert_eq!(err.kind(), signbridge::ErrorKind::Config);
        assert!(
            err.to_string().contains("bad.toml") && err.to_string().contains("acount"),
            "{err}"
        );
    }
}
