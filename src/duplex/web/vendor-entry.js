// The browser libraries the console needs, bundled into one ES module by `npm run build`.
// JsSIP is the SIP-over-WebSocket user agent of the softphone.
import JsSIP from "jssip";

export { JsSIP };
export const vendorVersions = { jssip: JsSIP.version };
