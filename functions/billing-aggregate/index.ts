import { http } from '@google-cloud/functions-framework';
import { startFunction } from '../start-function.ts';
import { createBillingAggregateHandler } from './handler.ts';

http(
  'billing-aggregate',
  startFunction('billing-aggregate', (deps) => createBillingAggregateHandler(deps)),
);
