//! What a port answers when its storage fails: its own error, which `crate::error` maps to
//! the contract's (a port knows nothing of HTTP).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
}
