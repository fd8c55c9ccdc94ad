use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = bulten::cli::Cli::parse();
    match bulten::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
