/**
 * React access to the API client and the store. Components read state with `useUpkeep(selector)`
 * and call the API through `useApi()`; neither knows whether IPC or HTTP sits behind it.
 */
import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { RendererApi } from './api/types';
import type { UpkeepActions, UpkeepState, UpkeepStore } from './store';

interface UpkeepContextValue {
  api: RendererApi;
  store: UpkeepStore;
}

const UpkeepContext = createContext<UpkeepContextValue | null>(null);

/** Makes `api` and `store` available to the tree below. */
export function UpkeepProvider(props: { api: RendererApi; store: UpkeepStore; children: ReactNode }) {
  return <UpkeepContext.Provider value={{ api: props.api, store: props.store }}>{props.children}</UpkeepContext.Provider>;
}

function useUpkeepContext(): UpkeepContextValue {
  const value = useContext(UpkeepContext);
  if (!value) throw new Error('UpkeepProvider is missing');
  return value;
}

/** The API client of this page. */
export function useApi(): RendererApi {
  return useUpkeepContext().api;
}

/** The store itself (for actions; they never change identity). */
export function useUpkeepStore(): UpkeepStore {
  return useUpkeepContext().store;
}

/** Subscribes to one slice of the store. The selector must return stable values (no new objects). */
export function useUpkeep<T>(selector: (state: UpkeepState & UpkeepActions) => T): T {
  return useStore(useUpkeepContext().store, selector);
}
