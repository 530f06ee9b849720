//! The `stevedore` binary: parse the command line, hand over to the library, exit with its code.

fn main() {
    std::process::exit(stevedore::main_with_args(std::env::args_os()));
}
