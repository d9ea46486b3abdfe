/** @odoo-module **/
// The sign wizard's form opens without reading its wizard from the server: the action that
// opens it (``_action_open``) carries what ``web_read`` would return, as ``esign_preload``
// in its context. One request less per signature matters when a whole shift signs at once.
//
// The preload is taken only for the wizard it was made for, and only when the form asks
// for exactly the fields the server read (``_esign_form_spec``). A form changed by another
// module asks for other fields and reads the wizard as every form does.
import { registry } from "@web/core/registry";
import { formView } from "@web/views/form/form_view";
import { RelationalModel } from "@web/model/relational_model/relational_model";
import { getFieldsSpec } from "@web/model/relational_model/utils";

function canonical(value) {
    if (Array.isArray(value)) {
        return value.map(canonical);
    }
    if (value && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((key) => [key, canonical(value[key])])
        );
    }
    return value;
}

export function sameSpec(a, b) {
    return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export class EsignSignWizardModel extends RelationalModel {
    setup(params, services) {
        const { esign_preload: preload, ...context } = params.config.context || {};
        // Taken out of the context, which every later call of the dialog sends back.
        this.esignPreload = preload || null;
        super.setup({ ...params, config: { ...params.config, context } }, services);
    }

    async _loadRecords(config, evalContext = config.context) {
        const preload = this.esignPreload;
        this.esignPreload = null; // the first read only: a reload reads the server
        if (
            preload &&
            config.resModel === "esign.sign.wizard" &&
            config.resIds.length === 1 &&
            config.resIds[0] === preload.id &&
            preload.record?.id === preload.id &&
            sameSpec(getFieldsSpec(config.activeFields, config.fields, evalContext), preload.spec)
        ) {
            return [preload.record];
        }
        return super._loadRecords(config, evalContext);
    }
}

registry.category("views").add("esign_sign_wizard_form", {
    ...formView,
    Model: EsignSignWizardModel,
});
