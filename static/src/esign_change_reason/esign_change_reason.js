/** @odoo-module **/
// A signed record's "Reason for Change" goes with the button that makes the change.
//
// Typing a reason and then clicking a button (Unreserve, Check Availability, a custom action
// that edits signed lines) first saves the form, then calls the button in a second request.
// The reason belongs to the change the button makes, so it travels in that call's context as
// ``esign_change_reason``, where the server's guards of signed content look for it.
import { patch } from "@web/core/utils/patch";
import { FormController } from "@web/views/form/form_controller";

patch(FormController.prototype, {
    async beforeExecuteActionButton(clickParams) {
        const record = this.model.root;
        const reason =
            clickParams.type === "object" && "esign_change_reason" in record.data
                ? record.data.esign_change_reason
                : false;
        const result = await super.beforeExecuteActionButton(...arguments);
        if (reason && result !== false) {
            clickParams.buttonContext = {
                ...(clickParams.buttonContext || {}),
                esign_change_reason: reason,
            };
        }
        return result;
    },
});
