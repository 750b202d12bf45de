fn main() -> std::process::ExitCode {
    circuitcheck::cli::main()
}
