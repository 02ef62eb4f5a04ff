// electron-builder afterSign hook: notarizes the signed macOS app with Apple's notary service.
// It only acts for macOS builds when the credentials are in the environment:
//   APPLE_ID, APPLE_APP_SPECIFIC_PASSWORD, APPLE_TEAM_ID   (Apple ID + app-specific password), or
//   APPLE_API_KEY, APPLE_API_KEY_ID, APPLE_API_ISSUER      (App Store Connect API key file).
// Otherwise it logs why it skipped and returns, so unsigned local and CI builds keep working.
// (electron-builder's own `mac.notarize` is switched off in electron-builder.yml so this is the one place.)
'use strict';
const path = require('node:path');

/** Which credential set the environment provides, or null. */
function notaryCredentials(env) {
  if (env.APPLE_ID && env.APPLE_APP_SPECIFIC_PASSWORD && env.APPLE_TEAM_ID) {
    return { appleId: env.APPLE_ID, appleIdPassword: env.APPLE_APP_SPECIFIC_PASSWORD, teamId: env.APPLE_TEAM_ID };
  }
  if (env.APPLE_API_KEY && env.APPLE_API_KEY_ID && env.APPLE_API_ISSUER) {
    return { appleApiKey: env.APPLE_API_KEY, appleApiKeyId: env.APPLE_API_KEY_ID, appleApiIssuer: env.APPLE_API_ISSUER };
  }
  return null;
}

async function afterSign(context) {
  if (context.electronPlatformName !== 'darwin') return;
  const credentials = notaryCredentials(process.env);
  if (!credentials) {
    console.log('  • notarize: skipped (set APPLE_ID, APPLE_APP_SPECIFIC_PASSWORD and APPLE_TEAM_ID, or APPLE_API_KEY, APPLE_API_KEY_ID and APPLE_API_ISSUER)');
    return;
  }
  // @electron/notarize ships with electron-builder; loaded only when notarizing.
  const { notarize } = await import('@electron/notarize');
  const appPath = path.join(context.appOutDir, `${context.packager.appInfo.productFilename}.app`);
  console.log(`  • notarize: submitting ${appPath}`);
  await notarize({ appPath, ...credentials });
  console.log('  • notarize: done');
}

module.exports = afterSign;
module.exports.default = afterSign;
module.exports.notaryCredentials = notaryCredentials;
