import { http } from '@google-cloud/functions-framework';
import { startFunction } from '../start-function.ts';
import { createProvisionHandler } from './handler.ts';

http('provision', startFunction('provision', createProvisionHandler));
