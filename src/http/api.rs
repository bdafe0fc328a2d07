//! The JSON API of contract section 9 (being written).

use super::AppState;
use axum::Router;

pub fn routes(state: AppState) -> Router {
    Router::new().with_state(state)
}
