/**
 * zod for the schemas of the state files Upkeep writes itself (installed.json, runtime.json,
 * point.json, journal.json, command-state.json): `zod/mini`, zod's function-style build.
 *
 * Every `upkeep status` reads some of these files, so their schemas are built at every start.
 * A classic zod schema installs dozens of methods on each instance and loads classic zod's own
 * modules; the mini schemas run the same checks (the same `zod/v4/core` code, so the same issues
 * with the same paths and messages) for a fraction of the start-up time. The config file's schemas
 * and the API's keep classic zod: they are built only on a config cache miss or in the daemon.
 *
 * zod/mini sets no message locale of its own (classic zod sets English when its first schema is
 * built): English is set here, as classic zod does it, unless a locale was chosen already, so an
 * ERR_STATE_CORRUPT message reads "Invalid input: expected string, received number" whichever
 * build ran first.
 */
import * as z from 'zod/mini';

if (!z.config().localeError) z.config(z.locales.en());

export { z };
