//! Personal data on sled: one record per resident, encrypted with that
//! resident's own key (ChaCha20-Poly1305), in two trees of the store's
//! database, `personal` (resident → nonce ‖ ciphertext) and
//! `personal-keys` (resident → key).
//!
//! Erasing a resident removes both. Without the key the record cannot be
//! read, wherever a stale copy of its bytes may linger. Limitation, stated
//! plainly: sled rewrites its segment files lazily, so old bytes of a
//! removed key can stay on disk until the segment is reused; a deployment
//! that must prove physical erasure keeps the key tree on storage it can
//! wipe (a later refinement).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use gridloop_engine::Error as EngineError;
use gridloop_engine::ids::ResidentId;
use gridloop_engine::personal::{Lookup, Person, PersonalStore};

/// Markers of erased residents, so a lookup can say "erased", not "unknown".
const ERASED: &[u8] = b"erased";

/// The engine's `PersonalStore` on the store's sled database: each resident's
/// record encrypted under a key of its own, so erasing the key erases the
/// record. Cheap to clone (sled trees are shared handles).
#[derive(Clone, Debug)]
pub struct SledPersonal {
    records: sled::Tree,
    keys: sled::Tree,
}

impl SledPersonal {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, EngineError> {
        let storage = |e: sled::Error| EngineError::Storage(e.to_string());
        Ok(Self {
            records: db.open_tree("personal").map_err(storage)?,
            keys: db.open_tree("personal-keys").map_err(storage)?,
        })
    }
}

fn random<const N: usize>() -> Result<[u8; N], EngineError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| EngineError::Storage(format!("no randomness for personal data keys: {e}")))?;
    Ok(bytes)
}

fn storage(e: sled::Error) -> EngineError {
    EngineError::Storage(e.to_string())
}

impl PersonalStore for SledPersonal {
    fn put(&self, resident: &ResidentId, person: &Person) -> Result<(), EngineError> {
        let _span = tracing::debug_span!("personal_put").entered();
        let key: [u8; 32] = match self.keys.get(resident.as_str()).map_err(storage)? {
            Some(k) if k.len() == 32 => k.as_ref().try_into().expect("checked length"),
            _ => random::<32>()?,
        };
        let nonce = random::<12>()?;
        let plain = serde_json::to_vec(person).map_err(|e| EngineError::Storage(e.to_string()))?;
        let sealed = ChaCha20Poly1305::new(Key::from_slice(&key))
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| EngineError::Storage("encrypting personal data failed".into()))?;
        self.keys.insert(resident.as_str(), &key[..]).map_err(storage)?;
        self.records.insert(resident.as_str(), [&nonce[..], &sealed].concat()).map_err(storage)?;
        self.keys.flush().map_err(storage)?;
        Ok(())
    }

    fn get(&self, resident: &ResidentId) -> Result<Lookup, EngineError> {
        let Some(record) = self.records.get(resident.as_str()).map_err(storage)? else { return Ok(Lookup::Unknown) };
        if record.as_ref() == ERASED {
            return Ok(Lookup::Erased);
        }
        let Some(key) = self.keys.get(resident.as_str()).map_err(storage)? else { return Ok(Lookup::Erased) };
        if record.len() < 12 || key.len() != 32 {
            return Err(EngineError::Corrupt(format!("personal record of {resident} is malformed")));
        }
        let plain = ChaCha20Poly1305::new(Key::from_slice(&key))
            .decrypt(Nonce::from_slice(&record[..12]), &record[12..])
            .map_err(|_| EngineError::Corrupt(format!("personal record of {resident} does not decrypt")))?;
        let person = serde_json::from_slice(&plain).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        Ok(Lookup::Found(person))
    }

    fn erase(&self, resident: &ResidentId) -> Result<bool, EngineError> {
        let _span = tracing::info_span!("personal_erase").entered();
        let had_key = self.keys.remove(resident.as_str()).map_err(storage)?.is_some();
        let had_record = self.records.insert(resident.as_str(), ERASED).map_err(storage)?;
        let existed = had_key || had_record.is_some_and(|r| r.as_ref() != ERASED);
        self.keys.flush().map_err(storage)?;
        self.records.flush().map_err(storage)?;
        Ok(existed)
    }
}
