fn main() -> std::process::ExitCode {
    circuitcheck::model::reuse_freed_memory();
    circuitcheck::cli::main()
}
