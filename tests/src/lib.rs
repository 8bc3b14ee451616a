//! Shared helpers for Warden's integration tests.

// Test support: a broken fixture should fail the test loudly.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};

use warden_core::inventory::{Inventory, InventoryFile};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The project's fixtures folder.
pub fn events_dir() -> PathBuf {
    root().join("events")
}

/// The reference shelf's example events, when the shelf is beside the checkout.
pub fn reference_events_dir() -> Option<PathBuf> {
    let dir = root().parent()?.join("shared/reference/events");
    dir.is_dir().then_some(dir)
}

/// Sorted `.json` files of a folder.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The bundled sample inventory, as the ledger holds it after `inventory import`.
pub fn sample_inventory() -> Inventory {
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap_or_default();
    let file = InventoryFile::parse(&text).unwrap_or_else(|e| panic!("sample inventory: {e}"));
    let mut inventory = Inventory::default();
    inventory.import(&file);
    inventory
}
