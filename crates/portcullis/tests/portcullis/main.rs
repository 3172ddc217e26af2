//! The `portcullis` binary as an operator runs it: the command line, several processes on one
//! database, a process killed in the middle of writes, the operator's account commands and what
//! the account flows leave in the logs; the brand settings checked at start; the traces it
//! exports over OTLP; the Kubernetes manifests; and the workspace's tidy rules.

mod accounts;
mod brand;
mod cli;
mod cluster;
mod crash;
mod kubernetes;
mod operators;
mod resources;
mod tidy;
mod traces;
