//! Who may call what: controllers administer; controllers and allow-listed principals upload. Each upload
//! method checks its caller itself (a canister's `inspect_message` does not run for inter-canister calls).

use crate::Error;
use candid::Principal;

/// A controller of this canister, or one of `allowed`.
pub fn is_uploader(allowed: &[Principal], caller: &Principal) -> bool {
    ic_cdk::api::is_controller(caller) || allowed.contains(caller)
}

/// The caller may upload: a controller or one of `allowed`.
pub fn require_uploader(allowed: &[Principal]) -> Result<(), Error> {
    let caller = ic_cdk::api::msg_caller();
    if is_uploader(allowed, &caller) {
        Ok(())
    } else {
        Err(Error::Unauthorized(format!(
            "{caller} is neither a controller nor allow-listed"
        )))
    }
}

/// The caller is a controller.
pub fn require_controller() -> Result<(), Error> {
    let caller = ic_cdk::api::msg_caller();
    if ic_cdk::api::is_controller(&caller) {
        Ok(())
    } else {
        Err(Error::Unauthorized(format!("{caller} is not a controller")))
    }
}
