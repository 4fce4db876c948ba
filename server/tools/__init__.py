"""The tools, one module per step; each is a thin async function over the app state, registered in `server.app`."""
