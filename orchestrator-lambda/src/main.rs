//! Placeholder: this service is built in its own milestone (see README, "Roadmap").

fn main() {
    eprintln!("not built yet: see README.md, \"Roadmap\"");
    std::process::exit(2);
}
