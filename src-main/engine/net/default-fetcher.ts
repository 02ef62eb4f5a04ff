/**
 * The production `Fetcher`: documents through `fetchBytes`, artifacts through `downloadFile`.
 */
import { fetchBytes, type Fetcher } from './fetcher';
import { downloadFile } from './download';

export const defaultFetcher: Fetcher = { fetchBytes, download: downloadFile };
