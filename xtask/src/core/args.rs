//! The one command-line grammar every task reads its options with.
//!
//! - `--name value` and `--name=value` mean the same; `--` ends the options.
//! - Values stay `OsString`: `--message` is bytes, not text.
//! - An unknown option, a missing value, a value given to a flag, a repeated
//!   option, or a free argument a task takes none of, is a usage error
//!   (status 2) that names the option and the task's `--help`.
//!
//! Reading is apart from checking, as ripgrep keeps its low and high
//! arguments: [`read`] turns the words into [`Args`] against the task's table
//! of [`Opt`]s, knowing nothing of what a value means, so it is unit-tested
//! here; each task then checks the values it got (a platform name, a port).
//!
//! The words are split by `lexopt`: one small file with no dependencies and
//! no proc-macro, which carries non-UTF-8 values, and adds well under a second
//! to a cold build of the xtask. clap would add ten seconds or more to every
//! cold build for help text we write by hand anyway.
use std::ffi::OsString;

use crate::Error;

/// One option a task accepts: `--name`, a flag, or `--name VALUE`.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// With the dashes: `--platform`.
    pub name: &'static str,
    /// What the value looks like in messages (`P|all`); `None` for a flag.
    pub value: Option<&'static str>,
}

/// `--name`, an option without a value.
pub const fn flag(name: &'static str) -> Opt {
    Opt { name, value: None }
}

/// `--name VALUE`.
pub const fn value(name: &'static str, value: &'static str) -> Opt {
    Opt {
        name,
        value: Some(value),
    }
}

/// What the command line said, in order: the options given (each once) with
/// their values, and the free arguments.
#[derive(Debug, Default)]
pub struct Args {
    /// `-h` or `--help` was given: print the help and do nothing else.
    pub help: bool,
    given: Vec<(&'static str, Option<OsString>)>,
    /// The words that are not options (`publish REF`), and every word after `--`.
    pub free: Vec<OsString>,
    task: &'static str,
}

/// `unknown option ...` and friends: a usage error that points at the help.
fn usage(task: &str, what: String) -> Error {
    Error::usage(format!(
        "{what}: run `cargo xtask {task} --help` for the options"
    ))
}

/// Reads `words` (the arguments after the task's name) against `opts`.
pub fn read(task: &'static str, opts: &[Opt], words: Vec<OsString>) -> Result<Args, Error> {
    use lexopt::Arg;
    let mut args = Args {
        task,
        ..Args::default()
    };
    let mut parser = lexopt::Parser::from_args(words);
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => return Err(usage(task, e.to_string())),
        };
        let name = match arg {
            Arg::Short('h') | Arg::Long("help") => {
                args.help = true;
                continue;
            }
            Arg::Value(v) => {
                args.free.push(v);
                // lexopt hands every word after `--` as a value.
                continue;
            }
            Arg::Short(c) => format!("-{c}"),
            Arg::Long(l) => format!("--{l}"),
        };
        let Some(opt) = opts.iter().find(|o| o.name == name) else {
            return Err(usage(task, format!("unknown option `{name}`")));
        };
        let v = match opt.value {
            Some(what) => Some(parser.value().map_err(|_| {
                usage(
                    task,
                    format!("`{}` needs a value: {} {what}", opt.name, opt.name),
                )
            })?),
            None => {
                if let Some(v) = parser.optional_value() {
                    return Err(usage(
                        task,
                        format!(
                            "`{}` takes no value, but was given `{}`",
                            opt.name,
                            v.to_string_lossy()
                        ),
                    ));
                }
                None
            }
        };
        // After reading its value, so that a last `--tag` with none says so.
        if args.given(opt.name) {
            return Err(usage(
                task,
                format!("`{}` was given twice; give it once", opt.name),
            ));
        }
        args.given.push((opt.name, v));
    }
    Ok(args)
}

impl Args {
    /// Whether `name` was given (a flag, or an option with its value).
    pub fn given(&self, name: &str) -> bool {
        self.given.iter().any(|(n, _)| *n == name)
    }

    /// The value of `name`, as given.
    pub fn os(&self, name: &str) -> Option<&OsString> {
        self.given
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_ref())
    }

    /// The value of `name` as text: a usage error if it is not UTF-8.
    pub fn text(&self, name: &str) -> Result<Option<&str>, Error> {
        match self.os(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).ok_or_else(|| {
                Error::usage(format!(
                    "{name} {}: the value is not UTF-8 text",
                    v.to_string_lossy()
                ))
            }),
        }
    }

    /// The value of `name`, parsed by `check`, whose error says what to give
    /// (`give a whole number from 1 to 600`); the message names the option
    /// and the value.
    pub fn parse<T>(
        &self,
        name: &str,
        check: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Error> {
        match self.text(name)? {
            None => Ok(None),
            Some(v) => check(v)
                .map(Some)
                .map_err(|fix| Error::usage(format!("{name} {v}: {fix}"))),
        }
    }

    /// Fails unless there are no free arguments (for tasks that take none).
    pub fn no_free(&self) -> Result<(), Error> {
        match self.free.first() {
            None => Ok(()),
            Some(v) => Err(usage(
                self.task,
                format!("unexpected argument `{}`", v.to_string_lossy()),
            )),
        }
    }
}

/// A whole number in `range`, for [`Args::parse`].
pub fn number<T>(range: std::ops::RangeInclusive<T>) -> impl FnOnce(&str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    move |v| match v.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "give a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &[Opt] = &[value("--platform", "P"), flag("--no-docker")];

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    fn err(w: &[&str]) -> Error {
        read("t", OPTS, words(w)).expect_err("a usage error")
    }

    #[test]
    fn both_spellings_of_a_value_read_the_same() {
        for w in [
            &["--platform", "linux/arm64"][..],
            &["--platform=linux/arm64"],
        ] {
            let a = read("t", OPTS, words(w)).unwrap();
            assert_eq!(a.os("--platform").unwrap(), "linux/arm64", "{w:?}");
        }
        // `=` inside a separate value is the value's.
        let a = read("t", OPTS, words(&["--platform", "a=b"])).unwrap();
        assert_eq!(a.os("--platform").unwrap(), "a=b");
    }

    #[test]
    fn double_dash_ends_the_options() {
        let a = read("t", OPTS, words(&["x", "--", "--no-docker", "-h"])).unwrap();
        assert!(!a.given("--no-docker") && !a.help);
        assert_eq!(a.free, words(&["x", "--no-docker", "-h"]));
    }

    #[test]
    fn values_stay_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(b"--platform=\xff\xfe".to_vec());
        let a = read("t", OPTS, vec![raw]).unwrap();
        assert_eq!(a.os("--platform").unwrap().clone().into_vec(), b"\xff\xfe");
        let e = a.text("--platform").unwrap_err();
        assert_eq!(e.status, 2);
    }

    #[test]
    fn every_mistake_is_a_usage_error_naming_the_option() {
        let cases: &[(&[&str], &str)] = &[
            (&["--nope"], "unknown option `--nope`"),
            (&["-x"], "unknown option `-x`"),
            (&["--platform"], "`--platform` needs a value: --platform P"),
            (&["--no-docker=1"], "`--no-docker` takes no value"),
            (
                &["--no-docker", "--no-docker"],
                "`--no-docker` was given twice",
            ),
            (
                &["--platform=a", "--platform", "b"],
                "`--platform` was given twice",
            ),
        ];
        for (w, want) in cases {
            let e = err(w);
            assert_eq!(e.status, 2, "{w:?}");
            assert!(e.message.contains(want), "{w:?}: {}", e.message);
            assert!(
                e.message
                    .ends_with("run `cargo xtask t --help` for the options"),
                "{w:?}: {}",
                e.message
            );
        }
    }

    #[test]
    fn help_and_free_arguments() {
        assert!(read("t", OPTS, words(&["-h"])).unwrap().help);
        assert!(read("t", OPTS, words(&["--help"])).unwrap().help);
        let a = read("t", OPTS, words(&["ref"])).unwrap();
        assert_eq!(a.no_free().unwrap_err().status, 2);
        assert!(read("t", OPTS, vec![]).unwrap().no_free().is_ok());
    }

    #[test]
    fn numbers_name_their_range() {
        let a = read("t", &[value("--n", "N")], words(&["--n=0"])).unwrap();
        let e = a.parse("--n", number(1u32..=9)).unwrap_err();
        assert_eq!(e.message, "--n 0: give a whole number from 1 to 9");
        let a = read("t", &[value("--n", "N")], words(&["--n", "9"])).unwrap();
        assert_eq!(a.parse("--n", number(1u32..=9)).unwrap(), Some(9));
    }
}
