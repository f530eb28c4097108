/**
 * A fuzz worker (worker_threads): runs its share of the campaign's rounds
 * (campaign.ts, runCampaign) and reports progress and the result. Rounds run
 * synchronously, so the parent asks a worker to stop through a shared flag
 * (a SharedArrayBuffer the worker polls between rounds).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runCampaign, type CampaignOptions, type CampaignResult } from './campaign.js';

export interface WorkerInput {
  opts: CampaignOptions;
  /** One Int32: non-zero means stop. */
  stopBuffer: SharedArrayBuffer;
}

export type WorkerMessage = { type: 'progress'; result: CampaignResult } | { type: 'done'; result: CampaignResult };

const port = parentPort;
if (port !== null) {
  const input = workerData as WorkerInput;
  const stopFlag = new Int32Array(input.stopBuffer);
  const result = runCampaign(input.opts, {
    onRound: (r) => port.postMessage({ type: 'progress', result: { ...r, found: null } } satisfies WorkerMessage),
    stop: () => Atomics.load(stopFlag, 0) !== 0,
  });
  port.postMessage({ type: 'done', result } satisfies WorkerMessage);
}
