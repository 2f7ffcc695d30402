//! authx
