//! Integration tests of the chat bot: the grammar table and conversations
//! with the core against a `MemoryStore` and the Chikan fixture; the
//! transport's parts without a network (flood limit, notices, state file,
//! URLs); and real conversations through a real Synapse (`matrix`, with the
//! harness in `synapse`: it needs `scripts/install-tools` to have run).

mod bot;
mod grammar;
mod matrix;
mod synapse;
mod transport;
mod world_names;
