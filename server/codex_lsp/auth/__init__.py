"""Auth core: credentials model, claims, storage, the AuthManager and login restrictions."""
