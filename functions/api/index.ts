import { http } from '@google-cloud/functions-framework';
import { startFunction } from '../start-function.ts';
import { createApiHandler } from './handler.ts';

http('api', startFunction('api', createApiHandler));
