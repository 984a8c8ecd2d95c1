//! `ticker` (`examples/ticker.rs`) and its Python original
//! (`tests/peers/ticker.py`), the application docs/PORTING.md shows side by
//! side.
//!
//! The port runs alone (both roles in one process, exiting by itself), and
//! against the original each way round: our server with the txZMQ client,
//! the txZMQ server with our client. Every run must print the same lines,
//! and end by itself. The Python runs need the interop environment
//! (`scripts/interop-env`); without it they say why they skip, or fail under
//! `TX0MQ_REQUIRE_INTEROP=1` (see `docs/INTEROP.md`).
//!
//! The guide shows both files whole; the last test checks that what it
//! shows is what the files hold, line for line.

use std::time::Duration;

use tx0mq_test_support::net::TempDir;
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python::repo_root;
use tx0mq_test_support::python_or_skip;

/// How long any one run may take, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// How many ticks each client asks about.
const COUNT: usize = 3;

/// The two endpoints of one test, in a private temporary directory (after
/// checking that the example binary is fresh).
struct Endpoints {
    _dir: TempDir,
    publish: String,
    rep: String,
}

fn endpoints(test: &str) -> Endpoints {
    examples_are_fresh("ticker", &["ticker"]);
    let dir = TempDir::new(test);
    Endpoints {
        publish: dir.ipc("tick"),
        rep: dir.ipc("square"),
        _dir: dir,
    }
}

/// The flags both implementations take, for `role`.
fn flags<'a>(role: &'a str, ep: &'a Endpoints, count: &'a str) -> Vec<&'a str> {
    vec![
        role,
        "--pub",
        &ep.publish,
        "--rep",
        &ep.rep,
        "--count",
        count,
        "--interval-ms",
        "20",
    ]
}

/// Waits for `proc` to exit by itself with status 0; returns its stdout.
fn finishes(proc: &mut Proc) -> Vec<String> {
    proc.succeeds(PATIENCE)
}

/// The lines starting with `prefix`.
fn side<'a>(lines: &'a [String], prefix: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|line| line.starts_with(prefix))
        .map(String::as_str)
        .collect()
}

/// Checks a client's lines and returns the ticks it asked about: `COUNT`
/// consecutive ticks, each squared, then the count and the server's `bye`.
fn client_transcript(lines: &[&str], ep: &Endpoints) -> Vec<u64> {
    let everything = lines.join("\n");
    assert_eq!(
        lines.first().copied(),
        Some(format!("client: ticks from {}, squares from {}", ep.publish, ep.rep).as_str()),
        "{everything}"
    );
    let ticks: Vec<u64> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("client: tick "))
        .map(|n| n.parse().unwrap_or_else(|e| panic!("tick {n:?}: {e}")))
        .collect();
    assert_eq!(ticks.len(), COUNT, "{everything}");
    assert!(
        ticks.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "ticks not consecutive: {everything}"
    );
    for n in &ticks {
        let squared = format!("client: {n} squared is {}", n * n);
        assert!(
            lines.contains(&squared.as_str()),
            "no {squared:?} in\n{everything}"
        );
    }
    let tail = &lines[lines.len().saturating_sub(2)..];
    assert_eq!(
        tail,
        [
            format!("client: {COUNT} of {COUNT} answered").as_str(),
            "client: server said b'bye'",
        ],
        "{everything}"
    );
    assert_eq!(lines.len(), 1 + 2 * COUNT + 2, "extra lines: {everything}");
    ticks
}

/// Checks a server's lines against the ticks its client asked about.
fn server_transcript(lines: &[&str], ep: &Endpoints, ticks: &[u64]) {
    let mut expected = vec![format!(
        "server: ticking on {}, squaring on {}",
        ep.publish, ep.rep
    )];
    expected.extend(
        ticks
            .iter()
            .map(|n| format!("server: got [b'square', b'{n}']")),
    );
    expected.push("server: got [b'stop']".to_string());
    assert_eq!(lines, expected);
}

#[test]
fn ticker_runs_both_roles_in_one_reactor_and_exits_by_itself() {
    let ep = endpoints("ticker-both");
    let mut both = Proc::spawn("ticker", &flags("both", &ep, "3"));
    let lines = finishes(&mut both);
    let ticks = client_transcript(&side(&lines, "client: "), &ep);
    server_transcript(&side(&lines, "server: "), &ep, &ticks);
    assert_eq!(
        lines.len(),
        side(&lines, "client: ").len() + side(&lines, "server: ").len(),
        "{lines:#?}"
    );
}

#[test]
fn ticker_with_no_role_runs_both_with_the_originals_defaults() {
    // No role: both. The defaults (five ticks, 100 ms apart) otherwise.
    let ep = endpoints("ticker-defaults");
    let mut both = Proc::spawn("ticker", &["--pub", &ep.publish, "--rep", &ep.rep]);
    let lines = finishes(&mut both);
    let answered = side(&lines, "client: 5 of 5 answered");
    assert_eq!(answered.len(), 1, "{lines:#?}");
}

#[test]
fn ticker_client_with_the_python_server() {
    let python = python_or_skip!("ticker_client_with_the_python_server");
    let ep = endpoints("ticker-py-server");
    let mut server = python.run_peer("ticker.py", &flags("server", &ep, "3"));
    server.expect_line(
        &format!("server: ticking on {}, squaring on {}", ep.publish, ep.rep),
        PATIENCE,
    );
    let mut client = Proc::spawn("ticker", &flags("client", &ep, "3"));
    let client_lines = finishes(&mut client);
    let ticks = client_transcript(&side(&client_lines, ""), &ep);
    let server_lines = finishes(&mut server);
    server_transcript(&side(&server_lines, ""), &ep, &ticks);
}

#[test]
fn ticker_server_with_the_python_client() {
    let python = python_or_skip!("ticker_server_with_the_python_client");
    let ep = endpoints("ticker-py-client");
    let mut server = Proc::spawn("ticker", &flags("server", &ep, "3"));
    server.expect_line(
        &format!("server: ticking on {}, squaring on {}", ep.publish, ep.rep),
        PATIENCE,
    );
    let mut client = python.run_peer("ticker.py", &flags("client", &ep, "3"));
    let client_lines = finishes(&mut client);
    let ticks = client_transcript(&side(&client_lines, ""), &ep);
    let server_lines = finishes(&mut server);
    server_transcript(&side(&server_lines, ""), &ep, &ticks);
}

#[test]
fn ticker_and_the_python_original_print_the_same_lines_alone() {
    let python = python_or_skip!("ticker_and_the_python_original_print_the_same_lines_alone");
    let ep = endpoints("ticker-py-both");
    let mut original = python.run_peer("ticker.py", &flags("both", &ep, "3"));
    let lines = finishes(&mut original);
    let ticks = client_transcript(&side(&lines, "client: "), &ep);
    server_transcript(&side(&lines, "server: "), &ep, &ticks);
}

// ------------------------------------------------------------ the guide

/// The code blocks of `language` in `text`, each as its lines.
fn code_blocks<'a>(text: &'a str, language: &str) -> Vec<Vec<&'a str>> {
    let fence = format!("```{language}");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match current.as_mut() {
            None if line.trim_end() == fence => current = Some(Vec::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(block) => block.push(line),
        }
    }
    assert!(current.is_none(), "an unclosed ```{language} block");
    blocks
}

/// The lines of a file that are not blank, with their trailing spaces cut.
fn code_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    lines
        .into_iter()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn the_guide_shows_both_files_whole_and_as_they_are() {
    let read = |path: &str| {
        std::fs::read_to_string(repo_root().join(path))
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
    };
    let guide = read("docs/PORTING.md");
    let start = guide
        .find("\n## A whole application, side by side")
        .expect("docs/PORTING.md has the section \"A whole application, side by side\"");
    let section = &guide[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];

    // The Python file after its docstring; the Rust file after its `//!` lines.
    let python = read("tests/peers/ticker.py");
    let docstring_end = python
        .match_indices("\"\"\"")
        .nth(1)
        .map(|(at, _)| at + 3)
        .expect("ticker.py opens with a docstring");
    let rust = read("examples/ticker.rs");
    let rust_body = rust.lines().skip_while(|line| line.starts_with("//!"));

    for (file, body, language) in [
        (
            "tests/peers/ticker.py",
            code_lines(python[docstring_end..].lines()),
            "python",
        ),
        ("examples/ticker.rs", code_lines(rust_body), "rust"),
    ] {
        let shown: Vec<&str> = code_blocks(section, language)
            .into_iter()
            .flat_map(code_lines)
            .collect();
        if let Some(at) = (0..body.len().max(shown.len())).find(|&i| body.get(i) != shown.get(i)) {
            panic!(
                "docs/PORTING.md shows {file} differently from line {} of its code on:\n  \
                 file:  {:?}\n  guide: {:?}\n(the guide's ```{language} blocks in \"A whole \
                 application, side by side\", in order, must be the file's code, blank lines \
                 aside)",
                at + 1,
                body.get(at),
                shown.get(at),
            );
        }
    }
}
