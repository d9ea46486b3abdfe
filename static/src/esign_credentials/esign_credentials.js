/** @odoo-module **/
// The sign wizard's credentials: the password and authenticator code live only in this
// module's per-wizard state and travel as arguments of action_sign. They are never record
// fields, so they are never saved to the database, logged by the ORM, or kept in the undo
// history.
//
// Two widgets share that state: ``esign_credentials`` in the body (the inputs, under the
// log-in) and ``esign_sign_button`` in the dialog's footer (the primary Sign button, beside
// Cancel, as in every Odoo dialog). Enter in an input signs too.
import { Component, onWillUnmount, reactive, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

// Wizard record's datapoint id -> its credentials state. Keyed by the id, not the record:
// each component sees the record through its own reactive proxy.
const states = new Map();

function credentialsOf(record) {
    if (!states.has(record.id)) {
        states.set(record.id, reactive({ password: "", totp: "", busy: false, error: "" }));
    }
    return states.get(record.id);
}

// The wizard's fields a signer fills in. They travel with the credentials in the one
// action_sign call: the wizard is changed and the records signed in one request and one
// transaction, and a refused signature saves nothing of its attempt.
const TYPED_FIELDS = ["login", "reason", "on_behalf_of_id"];

function typedValues(record) {
    const values = {};
    for (const name of TYPED_FIELDS) {
        if (name in record.activeFields) {
            const value = record.data[name];
            values[name] = Array.isArray(value) ? value[0] : value;
        }
    }
    return values;
}

function useSigning(record) {
    const orm = useService("orm");
    const action = useService("action");
    const state = useState(credentialsOf(record));
    async function sign() {
        if (state.busy) {
            return;
        }
        state.busy = true;
        state.error = "";
        try {
            // A required field left empty (the log-in) is shown as any form shows it, and
            // the password stays typed.
            if (!(await record.checkValidity({ displayNotification: true }))) {
                return;
            }
            const password = state.password;
            const totpCode = state.totp;
            state.password = "";
            state.totp = "";
            const result = await orm.call("esign.sign.wizard", "action_sign", [[record.resId]], {
                password,
                totp_code: totpCode,
                values: typedValues(record),
            });
            await action.doAction(result || { type: "ir.actions.act_window_close" });
        } catch (error) {
            state.error = (error.data && error.data.message) || error.message || String(error);
        } finally {
            state.busy = false;
        }
    }
    return { state, sign };
}

export class EsignCredentials extends Component {
    static template = "meddev_esign.EsignCredentials";
    static props = { ...standardWidgetProps };

    setup() {
        const { state, sign } = useSigning(this.props.record);
        this.state = state;
        this.sign = sign;
        onWillUnmount(() => {
            // Nothing typed outlives the dialog.
            this.state.password = "";
            this.state.totp = "";
            states.delete(this.props.record.id);
        });
    }

    get needsTotp() {
        return this.props.record.data.needs_totp;
    }

    onKeydown(ev) {
        if (ev.key === "Enter") {
            ev.preventDefault();
            this.sign();
        }
    }
}

export class EsignSignButton extends Component {
    static template = "meddev_esign.EsignSignButton";
    static props = { ...standardWidgetProps };

    setup() {
        const { state, sign } = useSigning(this.props.record);
        this.state = state;
        this.sign = sign;
    }
}

registry.category("view_widgets").add("esign_credentials", { component: EsignCredentials });
registry.category("view_widgets").add("esign_sign_button", { component: EsignSignButton });
