//! `signbridge-sandbox [--port N] [--host ADDR]`: serves every simulator until Ctrl-C/SIGTERM.
//!
//! Once listening it prints exactly one line to stdout, `SIGNBRIDGE_SANDBOX_URL=http://…`, so
//! scripts can start it and read where it is.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use signbridge_sandbox::{SandboxConfig, serve_forever};

const USAGE: &str = "usage: signbridge-sandbox [--port N] [--host ADDR]\n\
  --port N     port to listen on (default 0: any free port)\n\
  --host ADDR  address to bind (default 127.0.0.1)";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<SocketAddr>, String> {
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port = 0u16;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = |name: &str| {
            inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                let text = value("--port")?;
                port = text.parse().map_err(|_| format!("invalid port: {text}"))?;
            }
            "--host" => {
                let text = value("--host")?;
                host = text.parse().map_err(|_| format!("invalid host address: {text}"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(SocketAddr::new(host, port)))
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match parse_args(std::env::args().skip(1)) {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("signbridge-sandbox: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let served = serve_forever(SandboxConfig::default(), addr, |sandbox| {
        let mut stdout = std::io::stdout().lock();
        // Nothing useful can be done if stdout is gone; the server keeps running regardless.
        let _ = writeln!(stdout, "SIGNBRIDGE_SANDBOX_URL={}", sandbox.base_url());
        let _ = stdout.flush();
    })
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signbridge-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<SocketAddr>, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags() {
        assert_eq!(args(&[]).unwrap(), Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(
            args(&["--port", "8080", "--host=0.0.0.0"]).unwrap(),
            Some("0.0.0.0:8080".parse().unwrap())
        );
        assert_eq!(args(&["--help"]).unwrap(), None);
        assert!(args(&["--port"]).unwrap_err().contains("needs a value"));
        assert!(args(&["--port", "x"]).unwrap_err().contains("invalid port"));
        assert!(args(&["--verbose"]).unwrap_err().contains("unknown"));
    }
}
