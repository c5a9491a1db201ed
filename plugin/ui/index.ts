// The panel's entry (the plugin iframe): wires the main-thread bridge and the helper client into the Panel.
import { z } from 'zod';

import { MainThreadBridge } from './bridge.js';
import { fetchTransport, HelperClient } from '../../shared/helperClient.js';
import { Panel } from './panel.js';
import './styles.css';

// Figma's iframe may forbid eval (CSP); zod then validates without generating code.
z.config({ jitless: true });

const bridge = new MainThreadBridge(window);
new Panel(bridge, (helperUrl) => new HelperClient(fetchTransport(helperUrl))).start();
