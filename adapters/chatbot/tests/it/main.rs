//! Integration tests of the chat bot core: the grammar table and
//! conversations against a `MemoryStore` and the Chikan fixture.

mod bot;
mod grammar;
