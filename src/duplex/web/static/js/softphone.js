// The browser SIP library, bundled at build time into /static/vendor/duplex-vendor.js (npm ci && npm run
// build). Without the bundle (npm missing) the console still works; only the softphone is unavailable.
let loading = null;

export function loadSipLibrary() {
  if (!loading) {
    loading = import("/static/vendor/duplex-vendor.js")
      .then((vendor) => ({ ok: true, JsSIP: vendor.JsSIP, version: vendor.vendorVersions.jssip }))
      .catch(() => ({ ok: false, JsSIP: null, version: null }));
  }
  return loading;
}
