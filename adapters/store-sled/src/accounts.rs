//! Residents' accounts on sled (the engine's `AccountStore`): the
//! deployment secret, the phone index (keyed by the keyed hash of a phone,
//! never the phone), personal links by their hash, pending codes by phone
//! key, held orders, and the phone-tail index (keyed hash of a phone's last
//! digits, then the resident id, with no value), each in a tree of its own in the store's
//! database, beside the personal data and outside the log.

use gridloop_engine::Error as EngineError;
use gridloop_engine::account::{
    AccountStore, HeldOrder, LINKS_PER_RESIDENT_MAX, Link, PendingCode, PhoneKey, TAIL_RESIDENTS_MAX, TailKey,
};
use gridloop_engine::ids::ResidentId;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The one key of the secret tree.
const SECRET: &[u8] = b"secret";

/// The engine's `AccountStore` on the store's sled database. Cheap to
/// clone (sled trees are shared handles).
#[derive(Clone, Debug)]
pub struct SledAccounts {
    secret: sled::Tree,
    phones: sled::Tree,
    links: sled::Tree,
    codes: sled::Tree,
    held: sled::Tree,
    tails: sled::Tree,
}

fn storage(e: sled::Error) -> EngineError {
    EngineError::Storage(e.to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(value).map_err(|e| EngineError::Storage(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, EngineError> {
    serde_json::from_slice(bytes).map_err(|e| EngineError::Corrupt(format!("an account record: {e}")))
}

impl SledAccounts {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, EngineError> {
        Ok(Self {
            secret: db.open_tree("account-secret").map_err(storage)?,
            phones: db.open_tree("account-phones").map_err(storage)?,
            links: db.open_tree("account-links").map_err(storage)?,
            codes: db.open_tree("account-codes").map_err(storage)?,
            held: db.open_tree("account-held").map_err(storage)?,
            tails: db.open_tree("account-tails").map_err(storage)?,
        })
    }

    fn flushed<T>(&self, tree: &sled::Tree, value: T) -> Result<T, EngineError> {
        tree.flush().map_err(storage)?;
        Ok(value)
    }
}

impl AccountStore for SledAccounts {
    fn secret(&self) -> Result<[u8; 32], EngineError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| EngineError::Storage(format!("no randomness for the secret: {e}")))?;
        // The first secret stored wins, so two servers starting at once
        // agree on it.
        let _ = self.secret.compare_and_swap(SECRET, None as Option<&[u8]>, Some(&fresh[..])).map_err(storage)?;
        let stored =
            self.secret.get(SECRET).map_err(storage)?.ok_or_else(|| EngineError::Corrupt("no secret".into()))?;
        let secret: [u8; 32] =
            stored.as_ref().try_into().map_err(|_| EngineError::Corrupt("the account secret is malformed".into()))?;
        self.flushed(&self.secret, secret)
    }

    fn resident_of(&self, phone: &PhoneKey) -> Result<Option<ResidentId>, EngineError> {
        self.phones.get(phone.0).map_err(storage)?.map(|b| decode(&b)).transpose()
    }

    fn claim(&self, phone: &PhoneKey, resident: &ResidentId) -> Result<ResidentId, EngineError> {
        let value = encode(resident)?;
        let _ = self.phones.compare_and_swap(phone.0, None as Option<&[u8]>, Some(value)).map_err(storage)?;
        let owner = self.resident_of(phone)?.ok_or_else(|| EngineError::Corrupt("a claimed phone vanished".into()))?;
        self.flushed(&self.phones, owner)
    }

    fn put_link(&self, hash: &[u8; 32], link: &Link) -> Result<(), EngineError> {
        self.links.insert(hash, encode(link)?).map_err(storage)?;
        let own = self.links_of(&link.resident)?;
        for (oldest, _) in own.iter().take(own.len().saturating_sub(LINKS_PER_RESIDENT_MAX)) {
            self.links.remove(oldest).map_err(storage)?;
        }
        self.flushed(&self.links, ())
    }

    fn link(&self, hash: &[u8; 32]) -> Result<Option<Link>, EngineError> {
        self.links.get(hash).map_err(storage)?.map(|b| decode(&b)).transpose()
    }

    fn links_of(&self, resident: &ResidentId) -> Result<Vec<([u8; 32], Link)>, EngineError> {
        // A scan of the links: residents hold few, and this runs when one
        // is made or listed, not on every request.
        let mut own = Vec::new();
        for row in self.links.iter() {
            let (key, value) = row.map_err(storage)?;
            let link: Link = decode(&value)?;
            if &link.resident == resident {
                let hash: [u8; 32] =
                    key.as_ref().try_into().map_err(|_| EngineError::Corrupt("a link key is malformed".into()))?;
                own.push((hash, link));
            }
        }
        own.sort_by_key(|(_, l)| l.created_at);
        Ok(own)
    }

    fn revoke(&self, hash: &[u8; 32]) -> Result<bool, EngineError> {
        let had = self.links.remove(hash).map_err(storage)?.is_some();
        self.flushed(&self.links, had)
    }

    fn code(&self, phone: &PhoneKey) -> Result<Option<PendingCode>, EngineError> {
        self.codes.get(phone.0).map_err(storage)?.map(|b| decode(&b)).transpose()
    }

    fn set_code(&self, phone: &PhoneKey, code: Option<&PendingCode>) -> Result<(), EngineError> {
        match code {
            Some(code) => self.codes.insert(phone.0, encode(code)?).map(|_| ()),
            None => self.codes.remove(phone.0).map(|_| ()),
        }
        .map_err(storage)?;
        self.flushed(&self.codes, ())
    }

    fn hold(&self, id: &str, order: &HeldOrder) -> Result<(), EngineError> {
        self.held.insert(id.as_bytes(), encode(order)?).map_err(storage)?;
        self.flushed(&self.held, ())
    }

    fn held(&self) -> Result<Vec<(String, HeldOrder)>, EngineError> {
        let mut all = Vec::new();
        for row in self.held.iter() {
            let (key, value) = row.map_err(storage)?;
            all.push((String::from_utf8_lossy(&key).into_owned(), decode(&value)?));
        }
        Ok(all)
    }

    fn release(&self, id: &str) -> Result<Option<HeldOrder>, EngineError> {
        let order = self.held.remove(id.as_bytes()).map_err(storage)?.map(|b| decode(&b)).transpose()?;
        self.flushed(&self.held, order)
    }

    fn forget(&self, resident: &ResidentId) -> Result<usize, EngineError> {
        let mut gone = 0;
        for (hash, _) in self.links_of(resident)? {
            gone += usize::from(self.links.remove(hash).map_err(storage)?.is_some());
        }
        for row in self.phones.iter() {
            let (key, value) = row.map_err(storage)?;
            if decode::<ResidentId>(&value)? == *resident {
                gone += usize::from(self.phones.remove(key).map_err(storage)?.is_some());
            }
        }
        for row in self.tails.iter() {
            let (key, _) = row.map_err(storage)?;
            if key.get(32..) == Some(resident.as_str().as_bytes()) {
                gone += usize::from(self.tails.remove(key).map_err(storage)?.is_some());
            }
        }
        self.links.flush().map_err(storage)?;
        self.tails.flush().map_err(storage)?;
        self.flushed(&self.phones, gone)
    }

    fn index_tail(&self, tail: &TailKey, resident: &ResidentId) -> Result<(), EngineError> {
        let mut key = tail.0.to_vec();
        key.extend_from_slice(resident.as_str().as_bytes());
        self.tails.insert(key, &[]).map_err(storage)?;
        self.flushed(&self.tails, ())
    }

    fn residents_by_tail(&self, tail: &TailKey) -> Result<Vec<ResidentId>, EngineError> {
        let mut found = Vec::new();
        for row in self.tails.scan_prefix(tail.0).take(TAIL_RESIDENTS_MAX) {
            let (key, _) = row.map_err(storage)?;
            let id = std::str::from_utf8(&key[32..]).map_err(|e| EngineError::Corrupt(format!("a tail entry: {e}")))?;
            found.push(ResidentId::new(id)?);
        }
        Ok(found)
    }
}
