//! Processes of the stack for end-to-end tests and the bench: a child killed
//! when dropped, its logs in a directory, a free port, and the waits for a
//! port to listen or a route to answer.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};

/// A child process, killed when dropped. Its stdout and stderr go to
/// `<dir>/<name>.log` and `<dir>/<name>.err.log`.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log_dir: &Path) -> anyhow::Result<Self> {
        let child = cmd
            .stdout(log_file(log_dir, name))
            .stderr(log_file(log_dir, &format!("{name}.err")))
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name: name.to_owned(),
            child: Some(child),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, as ECS stops a task; waits up to `patience` for the exit.
    /// Its status, or `None` if it had to be killed after all.
    pub fn terminate(&mut self, patience: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.pid()?;
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let until = std::time::Instant::now() + patience;
        while std::time::Instant::now() < until {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        None
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    let _ = std::fs::create_dir_all(dir);
    std::fs::File::create(dir.join(format!("{name}.log")))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// Polls `url` until it answers 2xx, for `patience` at most.
pub async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    patience: Duration,
) -> anyhow::Result<()> {
    let until = tokio::time::Instant::now() + patience;
    loop {
        if let Ok(res) = client.get(url).timeout(Duration::from_secs(5)).send().await {
            if res.status().is_success() {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() > until {
            bail!("{url} did not become ready in {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until something listens on `127.0.0.1:port` (a server without a
/// readiness route, such as a Lambda runtime API), for `patience` at most.
pub async fn wait_listening(port: u16, patience: Duration) -> anyhow::Result<()> {
    let until = tokio::time::Instant::now() + patience;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > until {
            bail!("nothing listens on port {port} after {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// `cargo lambda watch` serving only the Lambda runtime API on
/// `127.0.0.1:port`, run in `crate_dir` (the function's crate).
pub fn lambda_runtime_api(crate_dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(crate_dir).args([
        "lambda",
        "watch",
        "--only-lambda-apis",
        "-A",
        "127.0.0.1",
        "-P",
        &port.to_string(),
    ]);
    cmd
}

/// Makes `cmd` (the orchestrator's binary) a function instance that polls
/// the runtime API on `runtime_port` with `max_concurrency` workers, as
/// Lambda runs it (1: one invocation at a time).
pub fn as_lambda_function(cmd: &mut Command, runtime_port: u16, max_concurrency: u32) {
    cmd.env("AWS_LAMBDA_FUNCTION_NAME", "orchestrator-lambda")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{runtime_port}/.rt"),
        )
        .env("AWS_LAMBDA_MAX_CONCURRENCY", max_concurrency.to_string());
}
