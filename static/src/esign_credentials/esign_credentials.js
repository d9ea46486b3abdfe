/** @odoo-module **/
// The sign wizard's credentials: the password and authenticator code live only in this
// component's state and travel as arguments of action_sign. They are never record fields, so
// they are never saved to the database, logged by the ORM, or kept in the undo history.
import { Component, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

export class EsignCredentials extends Component {
    static template = "meddev_esign.EsignCredentials";
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ password: "", totp: "", busy: false, error: "" });
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

    async sign() {
        if (this.state.busy) {
            return;
        }
        this.state.busy = true;
        this.state.error = "";
        const record = this.props.record;
        const password = this.state.password;
        const totpCode = this.state.totp;
        this.state.password = "";
        this.state.totp = "";
        try {
            await record.save();
            const result = await this.orm.call("esign.sign.wizard", "action_sign", [[record.resId]], {
                password,
                totp_code: totpCode,
            });
            await this.action.doAction(result || { type: "ir.actions.act_window_close" });
        } catch (error) {
            this.state.error = (error.data && error.data.message) || error.message || String(error);
        } finally {
            this.state.busy = false;
        }
    }
}

registry.category("view_widgets").add("esign_credentials", { component: EsignCredentials });
